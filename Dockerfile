# sockgate gateway image.
#
#   docker build -t sockgate .
#   docker run --rm -p 3000:3000 sockgate
#   docker run --rm -p 3001:3000 -e SOCKGATE_REDIS_URL=redis://redis:6379 sockgate
#
# The client bundle is committed in web/dist and embedded by go build, so the
# image needs no npm.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=docker
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/gateway ./cmd/gateway

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gateway /gateway
ENV SOCKGATE_ADDR=:3000 \
    SOCKGATE_LOG_FORMAT=json
EXPOSE 3000
USER nonroot:nonroot
ENTRYPOINT ["/gateway"]
