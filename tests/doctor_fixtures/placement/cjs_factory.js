// CommonJS: a helper module's factory, called by the handler on every invocation.
const db = require('./lib/factory');

exports.handler = async () => {
  const prisma = db.makeClient();
  return prisma.order.count();
};
