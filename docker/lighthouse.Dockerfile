# lighthouse image (the cluster's seed node). Build from the repository root:
#   docker build -f docker/lighthouse.Dockerfile -t actordb-lighthouse .

# --- build: the .NET SDK restores and publishes the lighthouse
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props ./
COPY src/ActorDb.Core/ActorDb.Core.csproj src/ActorDb.Core/
COPY src/ActorDb/ActorDb.csproj src/ActorDb/
COPY lighthouse/ActorDb.Lighthouse.csproj lighthouse/
RUN dotnet restore lighthouse/ActorDb.Lighthouse.csproj
COPY src/ src/
COPY lighthouse/ lighthouse/
RUN dotnet publish lighthouse/ActorDb.Lighthouse.csproj -c Release --no-restore -o /app

# --- run: the .NET runtime only
FROM mcr.microsoft.com/dotnet/runtime:10.0
WORKDIR /app
COPY --from=build /app ./
COPY hocon/lighthouse.conf /app/hocon/lighthouse.conf
ENV ACTORSYSTEM=actordb \
    CLUSTER_PORT=4053
EXPOSE 4053
STOPSIGNAL SIGTERM
ENTRYPOINT ["dotnet", "lighthouse.dll", "--config", "/app/hocon/lighthouse.conf"]
