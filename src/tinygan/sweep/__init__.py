"""Sweeps: a grid of settings times many seeds (`grid`), its units run here or as Ray tasks (`backends`)."""
