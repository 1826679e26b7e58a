# sockgate gateway image.
#
#   docker build -t sockgate .
#   docker run --rm -p 3000:3000 sockgate
#   docker run --rm -p 3001:3000 -e SOCKGATE_REDIS_URL=redis://redis:6379 sockgate
#
# The client bundle comes from the pinned npm package (npm ci), is copied into
# web/dist by go generate and embedded in the binary, as `make build` does.

FROM node:20-bookworm-slim AS npm
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
COPY --from=npm /src/node_modules ./node_modules
ARG VERSION=docker
RUN go generate ./web \
 && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/gateway ./cmd/gateway

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gateway /gateway
ENV SOCKGATE_ADDR=:3000 \
    SOCKGATE_LOG_FORMAT=json
EXPOSE 3000
USER nonroot:nonroot
ENTRYPOINT ["/gateway"]
