// The Optim module; see DESIGN.md.
