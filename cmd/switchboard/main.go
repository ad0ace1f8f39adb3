// Command switchboard runs the Switchboard API and delivery workers, applies
// migrations, and manages accounts.
//
//	switchboard serve [--role api|worker|all]
//	switchboard migrate
//	switchboard accounts create --name NAME [--json]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/switchboardhq/switchboard/keyring"
	"github.com/switchboardhq/switchboard/postgres"
	"github.com/switchboardhq/switchboard/webhook"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "switchboard:", err)
		os.Exit(1)
	}
}

const usage = `usage:
  switchboard serve [--role api|worker|all]   run the API and/or delivery workers
  switchboard migrate                         apply database migrations
  switchboard accounts create --name NAME [--json]
                                              create an account and print its API key
  switchboard keys generate                   print a new random master key (SWITCHBOARD_MASTER_KEY)
  switchboard keys rotate                     re-seal every stored secret under SWITCHBOARD_MASTER_KEY
                                              (old keys in SWITCHBOARD_MASTER_KEY_PREVIOUS)
Configuration comes from SWITCHBOARD_* environment variables (see README).`

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("no command")
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogLevel)
	switch args[0] {
	case "serve":
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		role := fs.String("role", RoleAll, "api, worker or all")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		return serve(ctx, cfg, *role, log)
	case "migrate":
		db, err := postgres.Open(ctx, cfg.DatabaseURL, 2)
		if err != nil {
			return err
		}
		defer db.Close()
		applied, err := db.Migrate(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "migrations applied: %d\n", len(applied))
		for _, a := range applied {
			fmt.Fprintln(stdout, "  "+a)
		}
		return nil
	case "accounts":
		if len(args) < 2 || args[1] != "create" {
			return fmt.Errorf("usage: switchboard accounts create --name NAME [--json]")
		}
		fs := flag.NewFlagSet("accounts create", flag.ContinueOnError)
		name := fs.String("name", "", "account name")
		asJSON := fs.Bool("json", false, "print JSON")
		if err := fs.Parse(args[2:]); err != nil {
			return err
		}
		if strings.TrimSpace(*name) == "" {
			return fmt.Errorf("--name is required")
		}
		return createAccount(ctx, cfg, *name, *asJSON, stdout)
	case "keys":
		switch {
		case len(args) == 2 && args[1] == "generate":
			fmt.Fprintln(stdout, keyring.NewKey())
			return nil
		case len(args) == 2 && args[1] == "rotate":
			return rotateKeys(ctx, cfg, stdout)
		}
		return fmt.Errorf("usage: switchboard keys generate | switchboard keys rotate")
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	fmt.Fprintln(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

func serve(ctx context.Context, cfg Config, role string, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	app, err := Start(ctx, cfg, role, log)
	if err != nil {
		return err
	}
	if cfg.PprofAddr != "" {
		// Profiling on its own listener, never on the public API port.
		go func() {
			log.Info("pprof listening", "addr", cfg.PprofAddr)
			if err := http.ListenAndServe(cfg.PprofAddr, http.DefaultServeMux); err != nil {
				log.Error("pprof", "err", err)
			}
		}()
	}
	log.Info("switchboard started", "role", role, "webhook_allow_private", cfg.WebhookAllowPriv)
	<-ctx.Done()
	log.Info("shutting down: finishing in-flight deliveries")
	app.Close()
	log.Info("stopped")
	return nil
}

func createAccount(ctx context.Context, cfg Config, name string, asJSON bool, stdout io.Writer) error {
	db, err := postgres.Open(ctx, cfg.DatabaseURL, 2)
	if err != nil {
		return err
	}
	defer db.Close()
	secret, err := webhook.NewSecret()
	if err != nil {
		return err
	}
	id, key, err := db.CreateAccount(ctx, name, secret)
	if err != nil {
		return err
	}
	if asJSON {
		return json.NewEncoder(stdout).Encode(map[string]string{
			"account_id": id, "api_key": key, "status_callback_secret": secret,
		})
	}
	fmt.Fprintf(stdout, "account_id: %s\napi_key:    %s   (shown once; stored hashed)\nstatus_callback_secret: %s\n", id, key, secret)
	return nil
}

// rotateKeys re-seals every channel's credentials under the current master
// key, printing progress; afterwards the previous keys can be dropped.
func rotateKeys(ctx context.Context, cfg Config, stdout io.Writer) error {
	if cfg.MasterKey == "" {
		return fmt.Errorf("SWITCHBOARD_MASTER_KEY is not set")
	}
	keys, err := keyring.New(cfg.MasterKey, cfg.MasterKeysPrev...)
	if err != nil {
		return err
	}
	db, err := postgres.Open(ctx, cfg.DatabaseURL, 2)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetSealer(keys)
	n, err := db.RotateChannelKeys(ctx, func(done, total int) {
		fmt.Fprintf(stdout, "\rre-sealed %d/%d channels", done, total)
	})
	if n > 0 {
		fmt.Fprintln(stdout)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d channels re-sealed under key %s; SWITCHBOARD_MASTER_KEY_PREVIOUS can now be removed\n", n, keys.CurrentID())
	return nil
}
