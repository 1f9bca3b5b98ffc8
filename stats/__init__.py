"""The back office's numbers: daily rollups of what the other packages record, funnels of a
window's and a drop's opening, and the live state of a sale (docs/console.md)."""
