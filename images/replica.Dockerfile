# The replica server (docs/architecture.md, "The replica server"): plain node:http plus the `ws` package (the
# WebSocket echo at /ws; no dependencies of its own), so the image holds only
# the compiled replica files and that one package. COPY-only, so it also builds FROM the
# shell-less base that images/make-base-image.sh makes on registry-less hosts.
# Build with `npm run images` (stages a small context); from the repo root,
# `docker build -f images/replica.Dockerfile .` works too after `npm run build`.
ARG BASE_IMAGE=node:20-slim
FROM ${BASE_IMAGE}
WORKDIR /app
# package.json only for "type": "module" (the files are ES modules).
COPY package.json ./
COPY dist/src/replica/*.js ./dist/src/replica/
COPY node_modules/ws ./node_modules/ws
USER node
# Bridge mode defaults; the docker driver sets all three per container.
ENV NODE_ENV=production PORT=5000 HOST=0.0.0.0
EXPOSE 5000
# The replica finishes in-flight requests on SIGTERM, then exits.
STOPSIGNAL SIGTERM
CMD ["node", "/app/dist/src/replica/main.js"]
