const { PrismaClient } = require('@prisma/client');

exports.handler = async (event) => {
  const prisma = new PrismaClient();
  const user = await prisma.user.findUnique({ where: { id: event.id } });
  await prisma.$disconnect();
  return user;
};
