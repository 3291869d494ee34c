# The pod sandbox image of the Kubernetes test cluster (no registry here): the
# static pause binary that images/k8s/build-binaries.sh builds, and nothing else.
FROM scratch
COPY pause /pause
USER 65535:65535
ENTRYPOINT ["/pause"]
