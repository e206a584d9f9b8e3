// ESM: a client per invocation.
import { PrismaClient } from '@prisma/client';

export async function handler(event) {
  const prisma = new PrismaClient();
  return prisma.order.findMany();
}
