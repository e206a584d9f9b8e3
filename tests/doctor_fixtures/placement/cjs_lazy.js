// CommonJS: created on the first invocation and kept in a module variable (an alias of the class).
const { PrismaClient: Client } = require('@prisma/client');

let prisma;

function client() {
  if (!prisma) {
    prisma = new Client();
  }
  return prisma;
}

module.exports.handler = async () => client().order.count();
