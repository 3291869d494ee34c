# ringlb itself (control plane, data plane, `up`): compiled dist/ plus the
# production node_modules. COPY-only, so it also builds FROM the shell-less
# base that images/make-base-image.sh makes on registry-less hosts.
# Build with `npm run images`: it stages a context with only the production
# dependencies (a plain repo-root build would copy the dev ones too).
ARG BASE_IMAGE=node:20-slim
FROM ${BASE_IMAGE}
WORKDIR /app
COPY package.json ./
COPY node_modules ./node_modules
COPY proto ./proto
COPY dist/src ./dist/src
USER node
ENV NODE_ENV=production
EXPOSE 5000 9901 50051
# A 2 MB young generation (V8's default is 16 MB): the same CPU per request,
# far less RSS under load; node takes it only at start (docs/performance.md,
# DATAPLANE_SEMI_SPACE_MB in src/dataplane/data-plane-cluster.ts).
ENTRYPOINT ["node", "--max-semi-space-size=2", "/app/dist/src/cli/main.js"]
CMD ["up"]
