// TypeScript: a typed handler that makes a client per invocation, wrapped by middleware.
import { PrismaClient } from '@prisma/client';
import type { APIGatewayProxyHandler } from 'aws-lambda';
import middy from '@middy/core';

const base: APIGatewayProxyHandler = async (event) => {
  const prisma: PrismaClient = new PrismaClient({ log: ['query'] });
  const orders = await prisma.order.findMany();
  return { statusCode: 200, body: JSON.stringify(orders) };
};

export const handler = middy(base);
