# One image with every part of the SMS framework, built from Debian bookworm
# packages only (scripts/bootstrap), installed under /usr/local.
FROM debian:bookworm
COPY . /src
RUN /src/scripts/bootstrap && make -C /src install PREFIX=/usr/local && rm -rf /src/build
