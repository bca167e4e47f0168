# The decommission worker (and, for the compose "local" profile, the KMS emulator and its seed job).
# Build stage: the same steps as a developer's `npm ci && npm run build` (tsc, then the prebuilt
# workflow bundle dist/workflow-bundle.js). Runtime stage: production dependencies and dist/ only.

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY scripts ./scripts
RUN npm run build

FROM node:24-bookworm-slim AS runtime
# NODE_ENV=production makes the worker load dist/workflow-bundle.js instead of bundling at start-up.
ENV NODE_ENV=production
# Measured (npm run bench -- --scenarios rss): 100 concurrent decommissions peak at 271 MiB RSS with these
# flags and one DescribeKey thread (403 MiB without them, before that thread existed); V8 otherwise lets
# short-lived SDK garbage pile up. The benchmark runs its worker with these flags. Override NODE_OPTIONS to change.
ENV NODE_OPTIONS="--max-old-space-size=256 --max-semi-space-size=4"
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
USER node
# Credentials and endpoints come from the environment at run time (see docs/deployment.md); none are baked in.
CMD ["node", "dist/src/worker.js"]
