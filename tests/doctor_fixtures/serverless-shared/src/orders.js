const { PrismaClient } = require('@prisma/client');

const prisma = new PrismaClient();

exports.handler = async () => prisma.order.findMany();
