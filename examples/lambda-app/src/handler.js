// Lambda handler: the Prisma client is created once per container, outside the handler, so warm
// invocations reuse its connection pool (set connection_limit=1 in DATABASE_URL on Lambda).
const { PrismaClient } = require('@prisma/client');
const log = require('debug')('orders');
const { formatOrder } = require('./format');

const prisma = new PrismaClient();

exports.handler = async (event) => {
  log('event %o', event);
  return {
    statusCode: 200,
    body: JSON.stringify({ engine: prisma.engineFile, example: formatOrder({ id: 1, total: 4200 }) }),
  };
};
