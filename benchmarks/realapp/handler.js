'use strict';
// The benchmark's real app: what a small GraphQL-over-Lambda API on Prisma requires at load time.
const { PrismaClient } = require('@prisma/client');
const { ApolloServer } = require('@apollo/server');
const express = require('express');
const AWS = require('aws-sdk');
const _ = require('lodash');
const moment = require('moment');
const { format } = require('date-fns');
const { z } = require('zod');
const { of } = require('rxjs');
const { graphql, buildSchema } = require('graphql');

const prisma = new PrismaClient();
const schema = buildSchema('type Query { users: Int }');
const Input = z.object({ email: z.string().email() });

exports.handler = async (event) => {
  const parsed = Input.safeParse(event || {});
  const result = await graphql({ schema, source: '{ users }', rootValue: { users: () => 0 } });
  return {
    statusCode: 200,
    body: JSON.stringify({
      ok: parsed.success, result: result.data, when: format(new Date(0), 'yyyy'), m: moment.utc(0).year(),
      keys: _.keys({ a: 1 }), s3: typeof AWS.S3, app: typeof express, apollo: typeof ApolloServer,
      rx: typeof of, users: typeof prisma.user.findMany,
    }),
  };
};
