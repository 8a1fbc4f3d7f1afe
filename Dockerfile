# Tickr API image.
#
#   build      installs every dependency and compiles src/ and migrations/ into dist/
#   prod-deps  installs the production dependencies only, from the same lockfile
#   runtime    node + dist/ + production node_modules + package.json, as the unprivileged `node` user
#
# The same image runs the service (`node dist/main.js`, the default) and the one-off migration
# step of a deploy (`node dist/cli/migrate.js run`), with MIGRATE_ON_START=false on the service.
#
# Amazon RDS CA bundle: with DATABASE_SSL=true pg verifies the server (rejectUnauthorized: true), and
# RDS certificates chain to Amazon's RDS CAs, which are not in Node's built-in store. The runtime stage
# downloads the global bundle (RDS_CA_BUNDLE_URL, a build arg) to /app/certs/rds-global-bundle.pem,
# root-owned and world-readable, and fails the build if it holds no valid certificate. The image does
# not set NODE_EXTRA_CA_CERTS: the ECS task does (NODE_EXTRA_CA_CERTS=/app/certs/rds-global-bundle.pem),
# so local runs against a plain Postgres are unaffected. The bundle is as fresh as this layer's cache:
# build with --no-cache (or a changed RDS_CA_BUNDLE_URL) to pick up a rotated bundle.
#
# Dependency install scripts: npm on our workstations and CI honours package.json "allowScripts",
# the stock npm in node images does not and would run every script (including @scarf/scarf's
# analytics). Neither the build (tsc) nor the production runtime needs any of them, so both
# installs use --ignore-scripts. (@embedded-postgres/* scripts only matter outside production.)

ARG NODE_IMAGE=node:22-bookworm-slim

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
COPY web ./web
RUN npm run build \
 && npm run build:web \
 && test -f web/dist/index.html \
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
# NODE_OPTIONS: a 256 MB old-space cap. Without one V8 lets the heap grow lazily under load (RSS
# from 175 to 300 MB in bench:flash-sale while the live heap stays far smaller); with it the app
# stays near 170 MB at the same throughput, well inside a 1 GiB task. --experimental-async-context-frame:
# AsyncLocalStorage (transactions, domain events, tracing) without async_hooks' per-promise hooks, as
# Node 24 does by default; the bench:flash-sale profile had them at ~5 % of the app's busy time.
ENV NODE_ENV=production \
    PORT=3000 \
    NODE_OPTIONS="--max-old-space-size=256 --experimental-async-context-frame" \
    NPM_CONFIG_UPDATE_NOTIFIER=false
WORKDIR /app

# The Amazon RDS CA bundle (see the header). Node's fetch, since slim images have no curl; a RUN rather
# than `ADD --chmod` so the classic builder works too. Every certificate is parsed: an error page, an
# empty or truncated download fails the build instead of shipping a bundle that trusts nothing.
ARG RDS_CA_BUNDLE_URL=https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem
RUN mkdir -p /app/certs \
 && node -e " \
      const { X509Certificate } = require('node:crypto'); \
      const { writeFileSync } = require('node:fs'); \
      const url = process.argv[1]; \
      fetch(url, { signal: AbortSignal.timeout(60000) }) \
        .then((res) => { if (!res.ok) throw new Error(url + ' answered ' + res.status); return res.text(); }) \
        .then((pem) => { \
          const certs = pem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) || []; \
          if (certs.length === 0) throw new Error('no certificate in ' + url); \
          certs.forEach((c) => new X509Certificate(c)); \
          writeFileSync('/app/certs/rds-global-bundle.pem', pem); \
          console.log('RDS CA bundle: ' + certs.length + ' certificates'); \
        }) \
        .catch((e) => { console.error('RDS CA bundle download failed: ' + e.message); process.exit(1); }); \
    " "$RDS_CA_BUNDLE_URL" \
 && chmod 0755 /app/certs \
 && chmod 0644 /app/certs/rds-global-bundle.pem \
 && test -s /app/certs/rds-global-bundle.pem

# Code and dependencies stay owned by root: the `node` user can read them but not change them.
COPY package.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The web app, served by the same process locally (in AWS, CloudFront serves it from S3).
COPY --from=build /app/web/dist ./web/dist
# The only writable place, for the local storage/email drivers should someone run the image with them.
RUN mkdir -p /app/.data && chown node:node /app/.data

USER node
EXPOSE 3000

# Liveness only (GET /health touches no dependency); slim images have no curl, node has fetch.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# main.ts drains on SIGTERM: readiness turns 503, in-flight requests finish, pools close.
STOPSIGNAL SIGTERM
# --single-threaded-gc (a V8 flag, which NODE_OPTIONS refuses): the collector runs on the main thread
# only. A task has half a vCPU (infra/lib/environments.ts): V8's background GC threads spend the same
# CFS quota as the main thread, and a burst of theirs gets the whole task throttled, every request
# waiting with it. Measured (README, Performance: "The tail at a fixed rate"): p99 of the warm event
# read at a paced 600 req/s under a 0.5-CPU quota 82-100 ms -> 48-51 ms; at 2 000 req/s on two free
# cores 28-30 ms -> 12 ms; CPU per request unchanged.
CMD ["node", "--single-threaded-gc", "dist/main.js"]
