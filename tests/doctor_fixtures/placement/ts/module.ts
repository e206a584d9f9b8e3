// TypeScript: the client from lib/prisma.ts (imported without extension), created at module scope there.
import type { Handler } from 'aws-lambda';
import { prisma } from './lib/prisma';

export const handler: Handler<{ id: number }, number> = async (event) => {
  return prisma.order.count({ where: { id: event.id } });
};
