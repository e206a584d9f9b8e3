// ESM: one client per container; a namespace import.
import * as client from '@prisma/client';

const prisma = new client.PrismaClient();

export const handler = async () => prisma.order.findMany();
