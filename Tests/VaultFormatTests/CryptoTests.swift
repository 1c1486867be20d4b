import Testing
@testable import VaultSupport
@testable import VaultCrypto
@testable import VaultCompression
@testable import VaultPostgres
@testable import VaultFormat

@Suite("libcrypto wrappers: known answers")
struct CryptoTests {
    @Test("SHA-256 of 'abc' matches FIPS 180-2")
    func sha256() throws {
        #expect(Hex.encode(try SHA256.hash(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test("AES-256-GCM matches the GCM specification's test case 14")
    func aesGCMKnownAnswer() throws {
        let key = try SymmetricKey(bytes: [UInt8](repeating: 0, count: 32))
        let sealed = try AESGCM.seal([UInt8](repeating: 0, count: 16), key: key, nonce: [UInt8](repeating: 0, count: 12), aad: [])
        #expect(Hex.encode(sealed.prefix(16)) == "cea7403d4d606b6e074ec5d3baf39d18")
        #expect(Hex.encode(sealed.suffix(16)) == "d0d1c8a799996bf0265b98b5d48ab919")
        let opened = try AESGCM.open(sealed[...], key: key, nonce: [UInt8](repeating: 0, count: 12), aad: [], what: "tc14")
        #expect(opened == [UInt8](repeating: 0, count: 16))
    }

    @Test("AES-256-GCM rejects a flipped tag, a changed AAD and the wrong key")
    func aesGCMTamper() throws {
        let key = try SymmetricKey.random()
        let nonce = try SecureRandom.bytes(12)
        let sealed = try AESGCM.seal(Array("hello".utf8), key: key, nonce: nonce, aad: Array("name".utf8))
        var flipped = sealed
        flipped[flipped.count - 1] ^= 1
        #expect(throws: CryptoError.self) { try AESGCM.open(flipped[...], key: key, nonce: nonce, aad: Array("name".utf8), what: "x") }
        #expect(throws: CryptoError.self) { try AESGCM.open(sealed[...], key: key, nonce: nonce, aad: Array("other".utf8), what: "x") }
        #expect(throws: CryptoError.self) { try AESGCM.open(sealed[...], key: try SymmetricKey.random(), nonce: nonce, aad: Array("name".utf8), what: "x") }
    }

    @Test("scrypt matches RFC 7914's test vector (first 32 bytes)")
    func scryptKnownAnswer() throws {
        let params = ScryptParameters(n: 1024, r: 8, p: 16, salt: Base64.encode(Array("NaCl".utf8)))
        let key = try KeyDerivation.scrypt(Passphrase(bytes: Array("password".utf8)), params)
        #expect(key.withBytes { Hex.encode($0) } == "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162")
    }

    @Test("every new key file costs N = 2^15 whatever the passphrase's length, with its own salt; an older, cheaper one still unwraps")
    func scryptCost() throws {
        for passphrase in [Passphrase(bytes: Array(repeating: 65, count: 44)), Passphrase(bytes: Array("short but ok!".utf8))] {
            let (file, _) = try KeyFile.create(secret: .passphrase(passphrase), created: "now")
            #expect(file.scrypt?.n == 1 << 15 && file.scrypt?.r == 8 && file.scrypt?.p == 1)
        }
        #expect(try ScryptParameters.recommended().salt != ScryptParameters.recommended().salt)
        let passphrase = Passphrase(bytes: Array("an older repository".utf8))
        let key = DataKey(id: Array(repeating: 3, count: DataKey.idSize), key: try SymmetricKey.random())
        let old = try KeyFile.wrap(key, secret: .passphrase(passphrase), created: "then", scrypt: ScryptParameters(n: 1 << 10, r: 8, p: 1, salt: Base64.encode(Array("salt".utf8))))
        #expect(try old.unwrap(secret: .passphrase(passphrase), repository: "/r").id == key.id)
    }

    @Test("a wrapped data key unwraps with its passphrase and fails clearly with another")
    func keyWrapping() throws {
        let (file, key) = try KeyFile.create(secret: .passphrase(Passphrase(bytes: Array("the right passphrase".utf8))), created: "now")
        let again = try file.unwrap(secret: .passphrase(Passphrase(bytes: Array("the right passphrase".utf8))), repository: "/repo")
        #expect(again.id == key.id)
        #expect(again.key.withBytes { Array($0) } == key.key.withBytes { Array($0) })
        let error = #expect(throws: FormatError.self) {
            try file.unwrap(secret: .passphrase(Passphrase(bytes: Array("the wrong passphrase".utf8))), repository: "/repo")
        }
        #expect(error?.kind == .wrongKey)
        #expect(error?.message.hasPrefix("wrong passphrase for repository /repo") == true)
        #expect(Passphrase(bytes: Array("secret".utf8)).description == "<passphrase>")
    }

    @Test("HKDF-SHA256 matches RFC 5869's first test case (first 32 bytes of OKM)")
    func hkdfKnownAnswer() throws {
        let okm = try KeyDerivation.hkdfSHA256(Passphrase(bytes: Array(repeating: 0x0b, count: 22)),
                                               salt: Array(0x00...0x0c), info: Array(0xf0...0xf9))
        #expect(okm.withBytes { Hex.encode($0) } == "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf")
    }

    @Test("a key file's 32 bytes wrap the data key through HKDF with a salt of its own; the other kind of secret is named, not called wrong")
    func keyMaterialWrapping() throws {
        let material = Passphrase(bytes: try SecureRandom.bytes(32))
        let (file, key) = try KeyFile.create(secret: .keyMaterial(material), created: "now")
        #expect(file.kdf == "hkdf-sha256" && file.scrypt == nil && file.hkdfSalt != nil)
        #expect(try file.unwrap(secret: .keyMaterial(material), repository: "/r").key.copyBytes() == key.key.copyBytes())
        let wrong = #expect(throws: FormatError.self) { try file.unwrap(secret: .keyMaterial(Passphrase(bytes: try SecureRandom.bytes(32))), repository: "/r") }
        #expect(wrong?.kind == .wrongKey && wrong?.message.hasPrefix("wrong key file for repository /r") == true)
        let otherKind = #expect(throws: FormatError.self) { try file.unwrap(secret: .passphrase(Passphrase(bytes: Array("a passphrase here".utf8))), repository: "/r") }
        #expect(otherKind?.message == "the key of repository /r is wrapped by a key file (encryption.key_file), but the policy gives a passphrase")
        let (again, _) = try KeyFile.create(secret: .keyMaterial(material), created: "now")
        #expect(again.hkdfSalt != file.hkdfSalt && again.wrappedKey != file.wrappedKey)
    }
}
