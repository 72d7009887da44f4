{
  description = "continuum: training runs that stop, checkpoint and resume correctly";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAll = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in {
      devShells = forAll (pkgs: {
        default = pkgs.mkShell {
          # Node 22, plus what the optional `gl` package (gpu.js headless WebGL) needs to build and run.
          packages = with pkgs; [
            nodejs_22
            python3
            pkg-config
            xorg.libX11
            xorg.libXi
            xorg.libXext
            libGL
            mesa
            xvfb-run
          ];
        };
      });
    };
}
