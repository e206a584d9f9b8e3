// CommonJS: the client lives in lib/prisma.js, which the handler requires.
const prisma = require('./lib/prisma');

exports.handler = async () => prisma.order.findMany();
