module github.com/i3net/i3net

go 1.26
