# actordb-node image. Build from the repository root:
#   docker build -f docker/node.Dockerfile -t actordb-node .
# Roles, AZ, address and seeds come from the environment (see docker-compose.yml and README "Running as a cluster").

# --- build: the .NET SDK restores and publishes the node program
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
# Restore first, from the project files alone, so a code change does not re-download packages.
COPY global.json Directory.Build.props Directory.Packages.props ./
COPY src/ActorDb.Core/ActorDb.Core.csproj src/ActorDb.Core/
COPY src/ActorDb/ActorDb.csproj src/ActorDb/
COPY src/ActorDb.Node/ActorDb.Node.csproj src/ActorDb.Node/
RUN dotnet restore src/ActorDb.Node/ActorDb.Node.csproj
COPY src/ src/
RUN dotnet publish src/ActorDb.Node/ActorDb.Node.csproj -c Release --no-restore -o /app

# --- run: the .NET runtime only (the node is a console host, no ASP.NET)
FROM mcr.microsoft.com/dotnet/runtime:10.0
WORKDIR /app
COPY --from=build /app ./
COPY hocon/ /app/hocon/
ENV ACTORSYSTEM=actordb \
    CLUSTER_PORT=5055 \
    ACTORDB_DATA_DIR=/var/lib/actordb
VOLUME /var/lib/actordb
EXPOSE 5055
# SIGTERM (docker stop) drains the writer, lets segments finish their fsync and leaves the cluster.
STOPSIGNAL SIGTERM
ENTRYPOINT ["dotnet", "actordb-node.dll", "--config", "/app/hocon/cluster-node.conf"]
