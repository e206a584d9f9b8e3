import { PrismaClient } from '@prisma/client';

let prisma;

export async function handler() {
  prisma ??= new PrismaClient();
  return prisma.report.count();
}
