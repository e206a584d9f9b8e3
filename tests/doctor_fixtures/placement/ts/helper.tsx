// TSX: a helper that makes a client on every call, called by the default export.
import { PrismaClient } from '@prisma/client';

function freshClient(): PrismaClient {
  return new PrismaClient();
}

export default async function page(): Promise<JSX.Element> {
  const n = await freshClient().order.count();
  return <p>{n}</p>;
}
