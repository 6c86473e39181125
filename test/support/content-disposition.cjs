// Jest only (jest.config.js maps `content-disposition` here): @fastify/static 10, which serves the
// Swagger UI's files, requires content-disposition 3, an ES module, through Node's require(esm), which
// Jest's module runtime cannot do. The service never answers with a download, the one use of it.
'use strict';
module.exports = {
  create(filename) {
    return `attachment; filename="${String(filename).replace(/[^\x20-\x7e]|["\\]/g, '_')}"`;
  },
};
