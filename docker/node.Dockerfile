# actordb-node image. Build from the repository root:
#   docker build -f docker/node.Dockerfile -t actordb-node .
# Roles, AZ, address and seeds come from the environment (see docker-compose.yml and README "Running as a cluster").
# The node links to its cluster over mutual TLS: mount its ca.crt, node.crt and node.key (actordb certs makes them) as
# secrets in /run/secrets (ACTORDB__SECURITY__TLS_DIR), and the command host's two tokens there too
# (ACTORDB__CMD__ADMIN_TOKEN_FILE, ACTORDB__CMD__READ_TOKEN_FILE). See README "Security".

# --- build: the .NET SDK restores and publishes the node program and the actordb CLI (the health check uses it)
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
# Restore first, from the project files alone, so a code change does not re-download packages.
COPY global.json Directory.Build.props Directory.Packages.props ./
COPY src/ActorDb.Common/ActorDb.Common.csproj src/ActorDb.Common/
COPY src/ActorDb.Commands/ActorDb.Commands.csproj src/ActorDb.Commands/
COPY src/ActorDb.Hosting/ActorDb.Hosting.csproj src/ActorDb.Hosting/
COPY src/ActorDb.Core/ActorDb.Core.csproj src/ActorDb.Core/
COPY src/ActorDb/ActorDb.csproj src/ActorDb/
COPY src/ActorDb.Node/ActorDb.Node.csproj src/ActorDb.Node/
COPY src/ActorDb.Cli/ActorDb.Cli.csproj src/ActorDb.Cli/
RUN dotnet restore src/ActorDb.Node/ActorDb.Node.csproj && dotnet restore src/ActorDb.Cli/ActorDb.Cli.csproj
COPY src/ src/
RUN dotnet publish src/ActorDb.Node/ActorDb.Node.csproj -c Release --no-restore -o /app \
 && dotnet publish src/ActorDb.Cli/ActorDb.Cli.csproj -c Release --no-restore -o /app/cli

# --- run: the .NET runtime only (the node is a console host, no ASP.NET), as the image's non-root user `app`
FROM mcr.microsoft.com/dotnet/runtime:10.0
WORKDIR /app
COPY --from=build /app ./
COPY hocon/ /app/hocon/
# The data directory belongs to `app` and is 0700 (the node refuses a data directory another user owns); a named
# volume mounted there starts as a copy of it.
RUN mkdir -p /var/lib/actordb && chown app:app /var/lib/actordb && chmod 0700 /var/lib/actordb
USER app
ENV ACTORSYSTEM=actordb \
    CLUSTER_PORT=5055 \
    ACTORDB_DATA_DIR=/var/lib/actordb \
    ACTORDB__SECURITY__TLS_DIR=/run/secrets \
    ACTORDB__CMD__ADMIN_TOKEN_FILE=/run/secrets/cmd-admin.token \
    ACTORDB__CMD__READ_TOKEN_FILE=/run/secrets/cmd-read.token
VOLUME /var/lib/actordb
EXPOSE 5055
# Healthy while the node's command host answers a read-only command with the read token (loopback, inside the
# container): the actor system runs and is a member of the cluster.
HEALTHCHECK --interval=15s --timeout=10s --start-period=60s --retries=3 \
  CMD ["dotnet", "/app/cli/actordb.dll", "127.0.0.1:9110", "--token-file", "/run/secrets/cmd-read.token", "cluster", "show"]
# SIGTERM (docker stop) drains the writer, lets segments finish their fsync and leaves the cluster.
STOPSIGNAL SIGTERM
ENTRYPOINT ["dotnet", "actordb-node.dll", "--config", "/app/hocon/cluster-node.conf"]
