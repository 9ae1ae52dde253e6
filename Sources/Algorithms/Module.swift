// The Algorithms module; see DESIGN.md.
