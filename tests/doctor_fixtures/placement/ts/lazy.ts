// TypeScript: lazily initialised, typed module variable.
import { PrismaClient } from '@prisma/client';

let prisma: PrismaClient | undefined;

function getPrisma(): PrismaClient {
  if (prisma === undefined) {
    prisma = new PrismaClient() as PrismaClient;
  }
  return prisma;
}

export async function handler(event: { id: number }): Promise<number> {
  return getPrisma().order.count();
}
