// Ed25519 signatures with the JDK's own EdDSA (java.security), for the
// checkpoint ledger and the drill's report.json.sig (SPEC section 9.10). Keys
// are PEM files as openssl makes them: `openssl genpkey -algorithm ed25519`
// (PKCS#8 "PRIVATE KEY") and `openssl pkey -pubout` (X.509 "PUBLIC KEY").

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.interfaces.EdECPrivateKey;
import java.security.spec.NamedParameterSpec;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.Base64;

/** A private key (to sign) and its public key (to verify), or a public key alone. */
record Ed25519Keys(PrivateKey privateKey, PublicKey publicKey) {
    static final String ALGORITHM = "Ed25519";

    /** --signing-key: a PKCS#8 PEM private key; its public key is derived from it. */
    static Ed25519Keys readPrivate(Path pem) throws Failure {
        // The JDK's reason (an OID, "invalid key format") is Java's text, not the user's: the line names the kind.
        byte[] der = pemBody(pem, "PRIVATE KEY");
        try {
            PrivateKey key = KeyFactory.getInstance(ALGORITHM).generatePrivate(new PKCS8EncodedKeySpec(der));
            return new Ed25519Keys(key, publicKeyOf(key));
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            throw new Failure(pem + " is not an Ed25519 private key (openssl genpkey -algorithm ed25519)");
        }
    }

    /** --verify-key: an X.509 PEM public key (openssl pkey -in key.pem -pubout). */
    static Ed25519Keys readPublic(Path pem) throws Failure {
        byte[] der = pemBody(pem, "PUBLIC KEY");
        try {
            return new Ed25519Keys(null, KeyFactory.getInstance(ALGORITHM).generatePublic(new X509EncodedKeySpec(der)));
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            throw new Failure(pem + " is not an Ed25519 public key (openssl pkey -pubout)");
        }
    }

    /**
     * The JDK has no call that derives an EdDSA public key, but its key pair
     * generator computes one from the 32 random bytes it draws: handing it
     * the private key's bytes as its "random" yields that key's pair.
     */
    private static PublicKey publicKeyOf(PrivateKey key) throws GeneralSecurityException {
        byte[] seed = ((EdECPrivateKey) key).getBytes()
                .orElseThrow(() -> new GeneralSecurityException("the private key's bytes are not available"));
        KeyPairGenerator generator = KeyPairGenerator.getInstance(ALGORITHM);
        generator.initialize(NamedParameterSpec.ED25519, new SecureRandom() {
            @Override
            public void nextBytes(byte[] bytes) {
                System.arraycopy(seed, 0, bytes, 0, Math.min(seed.length, bytes.length));
            }
        });
        KeyPair pair = generator.generateKeyPair();
        return pair.getPublic();
    }

    boolean canSign() {
        return privateKey != null;
    }

    /** The 64-byte signature of exactly these bytes. */
    byte[] sign(byte[] data) {
        try {
            Signature signer = Signature.getInstance(ALGORITHM);
            signer.initSign(privateKey);
            signer.update(data);
            return signer.sign();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("Ed25519 signing failed", e);
        }
    }

    boolean verifies(byte[] data, byte[] signature) {
        try {
            Signature verifier = Signature.getInstance(ALGORITHM);
            verifier.initVerify(publicKey);
            verifier.update(data);
            return verifier.verify(signature);
        } catch (GeneralSecurityException e) {
            return false;
        }
    }

    /** The public key as openssl pkey -pubout prints it. */
    String publicPem() {
        return "-----BEGIN PUBLIC KEY-----\n"
                + Base64.getMimeEncoder(64, "\n".getBytes()).encodeToString(publicKey.getEncoded())
                + "\n-----END PUBLIC KEY-----\n";
    }

    private static byte[] pemBody(Path pem, String label) throws Failure {
        String text;
        try {
            text = Files.readString(pem);
        } catch (IOException e) {
            throw new Failure("cannot read key " + pem + ": " + Failure.reason(e));
        }
        String begin = "-----BEGIN " + label + "-----";
        String end = "-----END " + label + "-----";
        int from = text.indexOf(begin);
        int to = text.indexOf(end);
        if (from < 0 || to < from) {
            throw new Failure(pem + " is not a PEM file holding a " + label + " (" + begin + ")");
        }
        try {
            return Base64.getMimeDecoder().decode(text.substring(from + begin.length(), to));
        } catch (IllegalArgumentException e) {
            throw new Failure(pem + ": the PEM body is not base64");
        }
    }
}
