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
# What the production image ships: the worker, the portal API, the operator CLI and the prebuilt workflow bundle. Not the KMS
# emulator, the dev-server helpers (devtools) or the demo scripts (those are in the "emulator" target only);
# bench/ and test/ never reach the build context (.dockerignore).
RUN mkdir -p /app/image/dist \
  && cp -r dist/src dist/workflow-bundle.js /app/image/dist/ \
  && rm -rf /app/image/dist/src/emulator /app/image/dist/src/devtools

# The compose "local" profile's KMS emulator and its seed job (`docker compose --profile local`): never production.
FROM node:24-bookworm-slim AS emulator
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
USER node
CMD ["node", "dist/src/emulator/main.js", "--host", "0.0.0.0"]

# The production worker image (the default target: the last stage).
FROM node:24-bookworm-slim AS runtime
# NODE_ENV=production makes the worker load dist/workflow-bundle.js instead of bundling at start-up.
ENV NODE_ENV=production
# V8 otherwise lets short-lived SDK garbage pile up: these flags bound the heap (the README's "Temporal cost and
# worker memory" has the measured peak). The benchmark runs its worker with the same flags. Override NODE_OPTIONS to change.
ENV NODE_OPTIONS="--max-old-space-size=256 --max-semi-space-size=4"
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/image/dist ./dist
USER node
# /metrics (Prometheus), /readyz and /livez (README, "Metrics and operations").
EXPOSE 9464
# Credentials and endpoints come from the environment at run time (see docs/deployment.md); none are baked in.
CMD ["node", "dist/src/worker.js"]
