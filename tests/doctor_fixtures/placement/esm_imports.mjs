// ESM: a helper module's factory called in the handler, and its disconnect.
import { getClient } from './lib/db.mjs';

export const handler = async () => {
  const prisma = getClient();
  const n = await prisma.order.count();
  await prisma.$disconnect();
  return n;
};
