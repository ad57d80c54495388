# syntax=docker/dockerfile:1
# credvault serving HTTP (/mcp, /sse, the REST routes) from a container:
# a static musl binary on an empty base image, the vault on a volume, the
# master password from a mounted secret file.
#
#   docker build -t credvault .
#   printf '%s\n' 'your master password' > password
#   chmod 400 password && sudo chown 10001 password   # owned by the container's user (or root)
#   docker run -d --name credvault -p 127.0.0.1:3978:3978 -v credvault-data:/data \
#     -v "$PWD/password:/run/secrets/credvault_password:ro" credvault
#   docker exec credvault /usr/local/bin/credvault token create --name laptop   # a bearer token
#
# The first start creates the vault (/data/vault.redb) with that password.
# Behind a reverse proxy or another host name, add --allow-origin https://NAME
# to the command (Host and Origin must be loopback or listed).

FROM rust:1.95-alpine AS build
RUN apk add --no-cache musl-dev ca-certificates
WORKDIR /src
COPY . .
ENV RUSTFLAGS="-C target-feature=+crt-static"
RUN cargo build --release --locked --bin credvault \
 && mkdir -p /out/data \
 && cp target/release/credvault /out/credvault

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/credvault /usr/local/bin/credvault
# The vault directory belongs to the user credvault runs as: credvault refuses a
# vault another user owns. A named volume starts as this directory.
COPY --from=build --chown=10001:10001 --chmod=0700 /out/data /data
USER 10001:10001
ENV HOME=/data \
    CREDVAULT_PATH=/data/vault.redb \
    CREDVAULT_PASSWORD_FILE=/run/secrets/credvault_password
VOLUME /data
EXPOSE 3978
ENTRYPOINT ["/usr/local/bin/credvault"]
CMD ["serve", "--http", "0.0.0.0:3978", "--allow-remote"]
