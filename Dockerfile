# Build: docker build -t inbond .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/inbond ./cmd/inbond

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/inbond /inbond
ENTRYPOINT ["/inbond"]
