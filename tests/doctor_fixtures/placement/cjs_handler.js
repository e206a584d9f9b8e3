// CommonJS: a client (and its pool) per invocation, disconnected at the end of each.
const { PrismaClient } = require('@prisma/client');

exports.handler = async (event) => {
  const prisma = new PrismaClient();
  try {
    return await prisma.order.findMany();
  } finally {
    await prisma.$disconnect();
  }
};
