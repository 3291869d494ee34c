# The replica server (docs/architecture.md, "The replica server"): node:http and node:http2 plus the `ws`
# package (the WebSocket echo at /ws) and grpc-js (the gRPC echo service), so the image holds only the
# compiled files the replica imports and those packages (test/unit/architecture/replica-image.test.ts
# checks that every import is copied). COPY-only, so it also builds FROM the
# shell-less base that images/make-base-image.sh makes on registry-less hosts.
# Build with `npm run images` (stages a small context); from the repo root,
# `docker build -f images/replica.Dockerfile .` works too after `npm run build`.
ARG BASE_IMAGE=node:20-slim
FROM ${BASE_IMAGE}
WORKDIR /app
# package.json only for "type": "module" (the files are ES modules).
COPY package.json ./
COPY dist/src/replica/*.js ./dist/src/replica/
COPY dist/src/shared/*.js ./dist/src/shared/
COPY dist/src/gen ./dist/src/gen
COPY node_modules/ws ./node_modules/ws
# The gRPC echo service (h2c and h2 replicas): grpc-js with its one runtime
# dependency (proto-loader is loaded only by APIs the replica does not use) and
# the runtime of the generated messages.
COPY node_modules/@grpc/grpc-js ./node_modules/@grpc/grpc-js
COPY node_modules/@js-sdsl/ordered-map ./node_modules/@js-sdsl/ordered-map
COPY node_modules/@bufbuild/protobuf ./node_modules/@bufbuild/protobuf
USER node
# Bridge mode defaults; the docker driver sets all three per container.
ENV NODE_ENV=production PORT=5000 HOST=0.0.0.0
EXPOSE 5000
# The replica finishes in-flight requests on SIGTERM, then exits.
STOPSIGNAL SIGTERM
CMD ["node", "/app/dist/src/replica/main.js"]
