# etcd for docker/compose.cluster.yaml: Debian's etcd-server on the daemon image's base.
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        etcd-server etcd-client \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
USER etcd
ENTRYPOINT ["etcd"]
