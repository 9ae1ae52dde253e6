// The Experiments module; see DESIGN.md.
