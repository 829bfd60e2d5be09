# plugin: see the part's own files; placeholder until the part lands.
