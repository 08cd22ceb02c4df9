package front

import (
	"testing"

	"github.com/i3net/i3net/internal/testwait"
)

func TestMain(m *testing.M) { testwait.Main(m) }
