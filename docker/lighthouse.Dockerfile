# lighthouse image (the cluster's seed node). Build from the repository root:
#   docker build -f docker/lighthouse.Dockerfile -t actordb-lighthouse .
# Like every process of the cluster it links over mutual TLS: mount its ca.crt, node.crt and node.key as secrets in
# /run/secrets, and the command host's two tokens there too (see docker-compose.yml and README "Security").

# --- build: the .NET SDK restores and publishes the lighthouse and the actordb CLI (the health check uses it)
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props ./
COPY src/ActorDb.Common/ActorDb.Common.csproj src/ActorDb.Common/
COPY src/ActorDb.Commands/ActorDb.Commands.csproj src/ActorDb.Commands/
COPY src/ActorDb.Hosting/ActorDb.Hosting.csproj src/ActorDb.Hosting/
COPY src/ActorDb.Core/ActorDb.Core.csproj src/ActorDb.Core/
COPY src/ActorDb/ActorDb.csproj src/ActorDb/
COPY src/ActorDb.Cli/ActorDb.Cli.csproj src/ActorDb.Cli/
COPY lighthouse/ActorDb.Lighthouse.csproj lighthouse/
RUN dotnet restore lighthouse/ActorDb.Lighthouse.csproj && dotnet restore src/ActorDb.Cli/ActorDb.Cli.csproj
COPY src/ src/
COPY lighthouse/ lighthouse/
RUN dotnet publish lighthouse/ActorDb.Lighthouse.csproj -c Release --no-restore -o /app \
 && dotnet publish src/ActorDb.Cli/ActorDb.Cli.csproj -c Release --no-restore -o /app/cli

# --- run: the .NET runtime only, as the image's non-root user `app`
FROM mcr.microsoft.com/dotnet/runtime:10.0
WORKDIR /app
COPY --from=build /app ./
COPY hocon/lighthouse.conf /app/hocon/lighthouse.conf
# The lighthouse keeps nothing but (when not mounted as secrets) its command-host tokens in its data directory.
RUN mkdir -p /var/lib/actordb && chown app:app /var/lib/actordb && chmod 0700 /var/lib/actordb
USER app
ENV ACTORSYSTEM=actordb \
    CLUSTER_PORT=4053 \
    ACTORDB_DATA_DIR=/var/lib/actordb \
    ACTORDB__SECURITY__TLS_DIR=/run/secrets \
    ACTORDB__CMD__ADMIN_TOKEN_FILE=/run/secrets/cmd-admin.token \
    ACTORDB__CMD__READ_TOKEN_FILE=/run/secrets/cmd-read.token
EXPOSE 4053
HEALTHCHECK --interval=15s --timeout=10s --start-period=30s --retries=3 \
  CMD ["dotnet", "/app/cli/actordb.dll", "127.0.0.1:9110", "--token-file", "/run/secrets/cmd-read.token", "cluster", "show"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["dotnet", "lighthouse.dll", "--config", "/app/hocon/lighthouse.conf"]
