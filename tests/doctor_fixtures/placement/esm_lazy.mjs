// ESM: created on first use with ??= and kept.
import { PrismaClient } from '@prisma/client';

let prisma;

const handler = async () => {
  prisma ??= new PrismaClient();
  return prisma.order.count();
};

export default handler;
