const { PrismaClient } = require('@prisma/client');

exports.makeClient = () => new PrismaClient();
