// The NN module; see DESIGN.md.
