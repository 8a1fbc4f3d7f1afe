# Tickr API image.
#
#   build      installs every dependency and compiles src/ and migrations/ into dist/
#   prod-deps  installs the production dependencies only, from the same lockfile
#   runtime    node + dist/ + production node_modules + package.json, as the unprivileged `node` user
#
# The same image runs the service (`node dist/main.js`, the default) and the one-off migration
# step of a deploy (`node dist/cli/migrate.js run`), with MIGRATE_ON_START=false on the service.
#
# Dependency install scripts: npm on our workstations and CI honours package.json "allowScripts",
# the stock npm in node images does not and would run every script (including @scarf/scarf's
# analytics). Neither the build (tsc) nor the production runtime needs any of them, so both
# installs use --ignore-scripts. (@embedded-postgres/* scripts only matter outside production.)

ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json tsconfig.migrations.json nest-cli.json ./
COPY src ./src
COPY migrations ./migrations
RUN npm run build \
 && test -f dist/main.js \
 && test -f dist/cli/migrate.js \
 && ls dist/migrations/*.js >/dev/null

# ---------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts \
 && npm cache clean --force

# ---------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    PORT=3000 \
    NPM_CONFIG_UPDATE_NOTIFIER=false
WORKDIR /app

# Code and dependencies stay owned by root: the `node` user can read them but not change them.
COPY package.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The only writable place, for the local storage/email drivers should someone run the image with them.
RUN mkdir -p /app/.data && chown node:node /app/.data

USER node
EXPOSE 3000

# Liveness only (GET /health touches no dependency); slim images have no curl, node has fetch.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# main.ts drains on SIGTERM: readiness turns 503, in-flight requests finish, pools close.
STOPSIGNAL SIGTERM
CMD ["node", "dist/main.js"]
