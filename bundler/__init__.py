"""photon-bundle: package Node.js serverless functions that carry Prisma's native query engine."""

__version__ = "0.1.0"
