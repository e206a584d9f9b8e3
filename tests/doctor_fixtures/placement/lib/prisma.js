const { PrismaClient } = require('@prisma/client');

module.exports = globalThis.prisma || new PrismaClient();
