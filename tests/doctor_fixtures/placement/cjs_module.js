// CommonJS: one client per container, created when the module loads.
const { PrismaClient } = require('@prisma/client');

const prisma = new PrismaClient();

async function handler(event) {
  return prisma.order.findMany();
}

module.exports = { handler };
