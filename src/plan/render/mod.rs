//! Renderings of a plan: text (a tree for terminals), JSON (the stable machine
//! format), Markdown (a pull-request comment) and a unified YAML diff.
