// The Data module; see DESIGN.md.
